"""Tests for tapegrad._format: hard-coded strings (verified against torch 2.13) that run without
torch, plus differential tests against repr(torch tensor) when torch is installed."""
import importlib.util
import pathlib
import re
import warnings

import numpy as np
import pytest

try:
    import tapegrad._format as fmt_mod
except Exception:  # package __init__ missing or mid-edit: load the file directly
    _path = pathlib.Path(__file__).resolve().parent.parent / "tapegrad" / "_format.py"
    _spec = importlib.util.spec_from_file_location("tapegrad_format_under_test", _path)
    fmt_mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(fmt_mod)

format_tensor = fmt_mod.format_tensor
set_printoptions = fmt_mod.set_printoptions
get_printoptions = fmt_mod.get_printoptions


@pytest.fixture(autouse=True)
def _restore_state():
    """Every test starts and ends with default print options and default dtype float32."""
    set_printoptions(profile="default")
    fmt_mod._default_dtype_name = "float32"
    yield
    set_printoptions(profile="default")
    fmt_mod._default_dtype_name = "float32"


# ---------------------------------------------------------------- torch-free (strings from torch)

f32 = np.float32
EXPECTED = [
    (np.ones((2, 2), f32), "float32", "tensor([[1., 1.],\n        [1., 1.]])"),
    (np.exp(f32(2)), "float32", "tensor(7.3891)"),
    (np.array([2.0065, 1.9535], f32), "float32", "tensor([2.0065, 1.9535])"),
    (np.array([-1.5, 0.0, 2.25, 100.0], f32), "float32",
     "tensor([ -1.5000,   0.0000,   2.2500, 100.0000])"),
    (np.array([1e-5, 1.0, 12345.0], f32), "float32", "tensor([1.0000e-05, 1.0000e+00, 1.2345e+04])"),
    (np.array([1.0, -2.0, 30.0], f32), "float32", "tensor([ 1., -2., 30.])"),
    (np.array([1, np.inf, -np.inf, np.nan], f32), "float32", "tensor([1., inf, -inf, nan])"),
    (np.array([-0.0, 1.5], f32), "float32", "tensor([-0.0000, 1.5000])"),
    (np.array([[1, -20], [300, 4]]), "int64", "tensor([[  1, -20],\n        [300,   4]])"),
    (np.array([1, 2], np.int32), "int32", "tensor([1, 2], dtype=tapegrad.int32)"),
    (np.array([True, False]), "bool", "tensor([ True, False])"),
    (np.array([0.5]), "float64", "tensor([0.5000], dtype=tapegrad.float64)"),
    (np.zeros(0, f32), "float32", "tensor([])"),
    (np.zeros((0, 3), f32), "float32", "tensor([], size=(0, 3))"),
    (np.zeros(0, np.int64), "int64", "tensor([], dtype=tapegrad.int64)"),
    (np.arange(8, dtype=f32).reshape(2, 2, 2), "float32",
     "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])"),
    (np.arange(2000), "int64", "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"),
    (np.arange(30, dtype=f32) / f32(7), "float32",
     "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
     "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
     "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
     "        3.8571, 4.0000, 4.1429])"),
]


@pytest.mark.parametrize("arr, name, expected", EXPECTED, ids=[e[2][:40] for e in EXPECTED])
def test_known_strings(arr, name, expected):
    assert format_tensor(arr, name) == expected


def test_suffix_wraps_like_torch():
    out = format_tensor(np.arange(20.0), "float64", suffixes=["requires_grad=True"])
    assert out == ("tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
                   "        14., 15., 16., 17., 18., 19.], dtype=tapegrad.float64, requires_grad=True)")
    out = format_tensor(np.arange(20.0), "float64", suffixes=["grad_fn=<MulBackward0>"])
    assert out.endswith("dtype=tapegrad.float64,\n       grad_fn=<MulBackward0>)")


def test_printoptions_without_torch():
    set_printoptions(precision=2)
    assert format_tensor(np.array([1.12345], f32), "float32") == "tensor([1.12])"
    set_printoptions(threshold=5)
    assert format_tensor(np.arange(10), "int64") == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    set_printoptions(profile="default")
    assert get_printoptions() == dict(precision=4, threshold=1000, edgeitems=3, linewidth=80,
                                      sci_mode=None)
    assert format_tensor(np.array([1.12345], f32), "float32") == "tensor([1.1235])"


def test_default_dtype_float64_without_torch():
    fmt_mod._default_dtype_name = "float64"
    assert format_tensor(np.array([0.5]), "float64") == "tensor([0.5000])"
    assert format_tensor(np.array([0.5], f32), "float32") == "tensor([0.5000], dtype=tapegrad.float32)"
    assert format_tensor(np.zeros(0, f32), "float32") == "tensor([], dtype=tapegrad.float32)"


# ---------------------------------------------------------------- differential against torch

FLOATS = ("float32", "float64", "float16")
INTS = ("int64", "int32", "int16", "int8", "uint8")
SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 4), (2, 2, 2, 3)]


def _cast(a, name):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # float16 overflow to inf is an intended case
        return np.ascontiguousarray(np.asarray(a).astype(name))


def _cases():
    """(id, array, dtype_name) covering the formatter's branches; deterministic."""
    rng = np.random.default_rng(1234)
    cases = []

    def add(tag, a, name):
        cases.append((f"{len(cases)}-{tag}-{name}", _cast(a, name), name))

    for scale in (1e-30, 1e-10, 1e-5, 1e-4, 1e-3, 0.1, 1, 10, 999, 1e4, 1e5, 1e7, 1e9, 1e20):
        for name in FLOATS:
            for shape in SHAPES:
                add(f"normal{scale:g}{shape}", rng.normal(size=shape) * scale, name)
    for name in FLOATS:
        for shape in SHAPES[1:]:
            add("intvalued", rng.integers(-1000, 1000, size=shape), name)
            add("mixedmag", rng.normal(size=shape) * 10.0 ** rng.integers(-6, 9, size=shape), name)
        add("bigint", rng.integers(-3, 3, size=6) * 1e9, name)  # int mode + sci mode
        specials = [np.inf, -np.inf, np.nan, -0.0, 0.0]
        add("nonfinite", specials, name)
        add("nonfinite+vals", specials + [1.5, -2.25, 1e-5], name)
        add("nonfinite+ints", specials + [3.0, -40.0], name)
        add("zeros", np.zeros((2, 3)), name)
        add("negzero", [-0.0, -0.0], name)
        add("negzero+vals", [-0.0, 0.5, -1e-7], name)
        add("ratio1000", [1.0, 1000.0], name)
        add("ratio>1000", [1.0, 1000.5], name)
        add("max1e8", [1e8, 3.0], name)
        add("min1e-4", [1e-4, 0.5], name)
        add("rounding", [9.99996, 0.99995, -9.99995, 99.99999], name)
        add("scalar-pi", np.pi, name)
        add("scalar-neg", -1234.5678, name)
        add("scalar-nan", np.nan, name)
    add("subnormal", [1e-40, 1.0], "float32")
    add("extreme", [1e300, 1e-300, -5.0], "float64")
    add("f32max", [np.finfo(np.float32).max, -1.0], "float32")
    for name in INTS:
        info = np.iinfo(name)
        for shape in SHAPES:
            add(f"int{shape}", rng.integers(info.min, info.max, size=shape, endpoint=True), name)
            add(f"smallint{shape}", rng.integers(-5 if info.min < 0 else 0, 5, size=shape), name)
    for shape in SHAPES:
        add(f"bool{shape}", rng.random(shape) > 0.5, "bool")
    add("bool-all-true", np.ones(4, bool), "bool")
    for name in FLOATS + INTS + ("bool",):
        for shape in [(0,), (0, 3), (3, 0), (2, 0, 4)]:
            add(f"empty{shape}", np.zeros(shape), name)
    # summarization (numel > threshold): formatter sees only the edge items
    for name in ("float32", "float64", "int64", "int8", "bool"):
        for shape in [(1001,), (40, 30), (11, 11, 11), (3, 400), (1001, 1), (2, 3, 4, 50)]:
            add(f"summ{shape}", rng.normal(size=shape) * 100, name)
    big = rng.normal(size=2000)
    big[500] = 1e12  # hidden in the middle: must not switch the shown values to sci mode
    add("summ-hidden-big", big, "float32")
    big[1] = np.nan
    add("summ-nan-edge", big, "float64")
    add("arange-summ", np.arange(5000).reshape(50, 100), "int64")
    # line wrapping at different element widths
    for n in (13, 26, 40):
        add(f"wrap{n}", rng.normal(size=n) * 10.0 ** rng.integers(0, 4), "float32")
        add(f"wrap2d{n}", rng.normal(size=(3, n)), "float64")
        add(f"wrapint{n}", rng.integers(-10**9, 10**9, size=n), "int64")
    return cases


CASES = _cases()


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    yield torch
    torch.set_printoptions(profile="default")
    torch.set_default_dtype(old)


def _torch_repr(torch, a, requires_grad=False, grad_fn=False):
    t = torch.from_numpy(a.copy())
    if requires_grad:
        t.requires_grad_()
        if grad_fn:
            t = t * 1  # same values, grad_fn=<MulBackward0>
    return repr(t).replace("torch.", "tapegrad.")


# One test per (family, dtype) keeps pytest's per-item overhead low; the message names the case.
GROUPS = {}
for _case in CASES:
    GROUPS.setdefault(re.match(r"\d+-([a-z]+)", _case[0]).group(1) + "-" + _case[2], []).append(_case)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_matches_torch(torch, group):
    for case_id, a, name in GROUPS[group]:
        assert format_tensor(a, name) == _torch_repr(torch, a), case_id
        assert format_tensor(a, name, module="torch") == repr(torch.from_numpy(a)), case_id


def test_noncontiguous_input(torch):
    a = np.arange(48, dtype=f32).reshape(2, 3, 8)[:, ::-1, ::2].transpose(2, 0, 1) / 7
    assert format_tensor(a, "float32") == _torch_repr(torch, a)


def test_str_equals_repr(torch):
    t = torch.from_numpy(np.arange(12, dtype=f32).reshape(3, 4) / 3)
    assert str(t) == repr(t)


SUFFIX_CASES = [c for c in CASES if c[2] in ("float32", "float64") and c[1].size < 1500][::4]


@pytest.mark.parametrize("grad_fn", [False, True])
def test_suffixes_match_torch(torch, grad_fn):
    suffix = "grad_fn=<MulBackward0>" if grad_fn else "requires_grad=True"
    for case_id, a, name in SUFFIX_CASES:
        expected = _torch_repr(torch, a, requires_grad=True, grad_fn=grad_fn)
        assert format_tensor(a, name, suffixes=[suffix]) == expected, case_id


@pytest.mark.parametrize("grad_fn", [False, True])
@pytest.mark.parametrize("name", ["float32", "float64"])
def test_suffix_wrap_boundary(torch, name, grad_fn):
    # vector lengths that put the end of the last line at every position near linewidth
    suffix = "grad_fn=<MulBackward0>" if grad_fn else "requires_grad=True"
    for n in range(1, 25):
        a = np.arange(n, dtype=name) + 0.5
        expected = _torch_repr(torch, a, requires_grad=True, grad_fn=grad_fn)
        assert format_tensor(a, name, suffixes=[suffix]) == expected, n


def test_subclass_prefix(torch):
    class Foo(torch.Tensor):
        pass

    a = np.arange(40, dtype=f32)
    assert format_tensor(a, "float32", prefix="Foo(") == repr(torch.from_numpy(a).as_subclass(Foo))


PRINT_OPTIONS = [
    dict(precision=0), dict(precision=2), dict(precision=8),
    dict(threshold=0), dict(threshold=5), dict(threshold=50),
    dict(edgeitems=0), dict(edgeitems=1), dict(threshold=5, edgeitems=0),
    dict(threshold=10, edgeitems=1), dict(threshold=20, edgeitems=5),
    dict(linewidth=10), dict(linewidth=40), dict(linewidth=200),
    dict(sci_mode=True), dict(sci_mode=False), dict(precision=3, sci_mode=True),
    dict(profile="short"), dict(profile="full"), dict(profile="short", precision=6),
]
OPTION_CASES = CASES[::7]


@pytest.mark.parametrize("opts", PRINT_OPTIONS, ids=[repr(o) for o in PRINT_OPTIONS])
def test_printoptions_match_torch(torch, opts):
    torch.set_printoptions(**opts)
    set_printoptions(**opts)
    assert get_printoptions() == torch._tensor_str.get_printoptions()
    for _, a, name in OPTION_CASES:
        assert format_tensor(a, name) == _torch_repr(torch, a), (opts, a, name)
        if name in ("float32", "float64"):
            assert (format_tensor(a, name, suffixes=["requires_grad=True"])
                    == _torch_repr(torch, a, requires_grad=True))


@pytest.mark.parametrize("default", ["float64", "float16"])
def test_default_dtype_matches_torch(torch, default):
    torch.set_default_dtype(getattr(torch, default))
    fmt_mod._default_dtype_name = default
    for _, a, name in CASES[::5]:
        assert format_tensor(a, name) == _torch_repr(torch, a), (default, a, name)


def test_property_random_floats(torch):
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings, strategies as st
    from hypothesis.extra import numpy as hnp

    dtypes = st.sampled_from(["float32", "float64", "float16"])

    @st.composite
    def arrays(draw):
        name = draw(dtypes)
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
        a = draw(hnp.arrays(name, shape, elements=hnp.from_dtype(np.dtype(name))))
        return a, name

    @settings(max_examples=50, derandomize=True, database=None, deadline=None)
    @given(arrays())
    def check(case):
        a, name = case
        assert format_tensor(a, name) == _torch_repr(torch, a)

    check()
